"""Routes for coverage (being written)."""

from fastapi import APIRouter

router = APIRouter()
