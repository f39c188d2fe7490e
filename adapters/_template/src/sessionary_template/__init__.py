"""A Sessionary storage adapter for TEMPLATE."""

from sessionary_template.store import TemplateDb

__all__ = ["TemplateDb"]
