"""compliance: an online-safety regulatory compliance tracker and knowledge base."""

from compliance.app import create_app

__all__ = ["create_app"]
