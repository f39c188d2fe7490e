"""OpenAI model providers (Responses and Chat Completions) for Sessionary."""
