"""Routes for maps (being written)."""

from fastapi import APIRouter

router = APIRouter()
