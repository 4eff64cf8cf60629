"""Routes for hotspots (being written)."""

from fastapi import APIRouter

router = APIRouter()
