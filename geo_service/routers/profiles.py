"""Routes for profiles (being written)."""

from fastapi import APIRouter

router = APIRouter()
