"""Routes for boundaries (being written)."""

from fastapi import APIRouter

router = APIRouter()
