"""Session naming: the policy contract (guardrails and fallbacks)."""

from sessionary.naming.policy import NameRejected, NamingContext, NamingFallback, NamingGuardrail

__all__ = ["NameRejected", "NamingContext", "NamingFallback", "NamingGuardrail"]
