"""Python bindings for the runtime test plans."""


def draft(ticket):
    return f"Dear customer, about: {ticket}"


def is_spam(ticket):
    return "free money" in ticket.lower()


def is_urgent(message):
    return "urgent" in message.lower()


def follow_up(message):
    return f"follow up on {message}"


def merge(items):
    return " | ".join(items)


def note(chapter, previous):
    return f"{chapter} after {previous}"


def summarize(notes):
    return notes


def boom(x):
    raise ValueError(f"cannot handle {x}")


def shout(x):
    return x.upper()


def split_words(text):
    return text.split()


def grow(item):
    return item + "+" if len(item) < 3 else None


def both(notes, all_notes):
    return {"notes": notes, "all": all_notes}
