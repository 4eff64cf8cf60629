"""Routes for weights (being written)."""

from fastapi import APIRouter

router = APIRouter()
