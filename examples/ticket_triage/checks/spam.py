"""Deterministic spam check bound to the judgement `::(check whether {1} is spam)<ALL True>`."""

SPAM_WORDS = ("winner", "free money", "click here", "crypto giveaway")


def is_spam(ticket_text: str) -> bool:
    text = ticket_text.lower()
    return any(word in text for word in SPAM_WORDS)
