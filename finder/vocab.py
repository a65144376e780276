"""The controlled vocabularies from PRODUCT.md, in one place.

Every field that is a controlled list in the product (format, how to join, loss type, ...)
is a `Vocabulary`: codes in a fixed order with a human label, plus the synonyms searchers
and publishers actually type, so parsing "TFMR" or "dads" is one lookup everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse punctuation so synonyms match loosely."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9+]+", " ", text.lower()).strip()


@dataclass(frozen=True)
class Vocabulary:
    name: str
    labels: dict[str, str]
    synonyms: dict[str, str] = field(default_factory=dict)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def label(self, code: str) -> str:
        return self.labels.get(code, code)

    def lookup(self, text: str) -> str | None:
        """The code for a code, label or synonym; None when it is not in the list."""
        if text in self.labels:
            return text
        key = fold(text)
        for code, label in self.labels.items():
            if key in (fold(code), fold(label)):
                return code
        return self.synonyms.get(key)


FORMAT = Vocabulary(
    "format",
    {"in_person": "In person", "virtual": "Online", "hybrid": "Hybrid (in person and online)"},
    {"online": "virtual", "zoom": "virtual", "video": "virtual", "face to face": "in_person",
     "in person": "in_person", "both": "hybrid", "blended": "hybrid"},
)

JOIN = Vocabulary(
    "join",
    {"drop_in": "Drop in", "register": "Register first", "contact": "Contact the facilitator",
     "waitlist": "Join the waiting list"},
    {"drop in": "drop_in", "dropin": "drop_in", "registration": "register",
     "registration required": "register", "book": "register", "rsvp": "register",
     "contact facilitator": "contact", "waiting list": "waitlist", "wait list": "waitlist"},
)

STATUS = Vocabulary("status", {"active": "Active", "paused": "Paused", "withdrawn": "Withdrawn"})

LOSS = Vocabulary(
    "loss",
    {
        "miscarriage": "Miscarriage",
        "recurrent_miscarriage": "Recurrent miscarriage",
        "ectopic": "Ectopic pregnancy",
        "molar": "Molar pregnancy",
        "stillbirth": "Stillbirth",
        "neonatal_death": "Neonatal death",
        "tfmr": "Termination for medical reasons (TFMR)",
        "infant_loss": "Infant loss",
        "pregnancy_after_loss": "Pregnancy after loss",
    },
    {
        "termination for medical reasons": "tfmr", "tfmr": "tfmr", "afr": "tfmr",
        "stillborn": "stillbirth", "still birth": "stillbirth",
        "neonatal": "neonatal_death", "nicu": "neonatal_death", "neonatal loss": "neonatal_death",
        "rainbow": "pregnancy_after_loss", "rainbow pregnancy": "pregnancy_after_loss",
        "pal": "pregnancy_after_loss", "ectopic pregnancy": "ectopic",
        "molar pregnancy": "molar", "recurrent": "recurrent_miscarriage",
        "recurrent pregnancy loss": "recurrent_miscarriage", "rpl": "recurrent_miscarriage",
        "sids": "infant_loss", "baby loss": "miscarriage", "pregnancy loss": "miscarriage",
    },
)

AUDIENCE = Vocabulary(
    "audience",
    {
        "birthing_parents": "Birthing parents",
        "partners": "Partners",
        "dads": "Dads",
        "couples": "Couples",
        "lgbtq_parents": "LGBTQ+ parents",
        "grandparents": "Grandparents",
        "families": "Siblings and families",
        "professionals": "Professionals",
    },
    {
        "fathers": "dads", "father": "dads", "dad": "dads", "men": "dads",
        "partner": "partners", "mothers": "birthing_parents", "mums": "birthing_parents",
        "moms": "birthing_parents", "mothers and birthing parents": "birthing_parents",
        "women": "birthing_parents", "couple": "couples", "lgbtq": "lgbtq_parents",
        "lgbtq+": "lgbtq_parents", "lgbt": "lgbtq_parents", "queer parents": "lgbtq_parents",
        "siblings": "families", "family": "families", "grandparent": "grandparents",
        "staff": "professionals", "midwives": "professionals",
    },
)

FACILITATION = Vocabulary(
    "facilitation",
    {"peer": "Peer-led", "professional": "Professional-led", "co_led": "Co-led"},
    {"peer led": "peer", "peer-led": "peer", "professional led": "professional",
     "co led": "co_led", "co-led": "co_led"},
)

COST = Vocabulary(
    "cost",
    {"free": "Free", "donation": "Donation welcome", "fee": "Fee"},
    {"no cost": "free", "donations": "donation", "paid": "fee", "charge": "fee"},
)

TIME_BAND = Vocabulary(
    "time",
    {"morning": "Morning (5am to noon)", "afternoon": "Afternoon (noon to 5pm)",
     "evening": "Evening (5pm to 9pm)", "night": "Night (9pm to 5am)"},
)

DAYS = Vocabulary(
    "day",
    {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
     "fri": "Friday", "sat": "Saturday", "sun": "Sunday"},
    {"tues": "tue", "weds": "wed", "thur": "thu", "thurs": "thu"},
)

LANGUAGE = Vocabulary(
    "language",
    {"en": "English", "es": "Spanish", "cy": "Welsh", "fr": "French", "pl": "Polish",
     "ur": "Urdu", "pa": "Punjabi", "bn": "Bengali", "ar": "Arabic", "zh": "Chinese",
     "pt": "Portuguese", "de": "German", "asl": "American Sign Language",
     "bsl": "British Sign Language"},
    {"espanol": "es", "castellano": "es", "cymraeg": "cy", "polski": "pl",
     "mandarin": "zh", "cantonese": "zh", "sign language": "bsl"},
)

ALL = {v.name: v for v in (FORMAT, JOIN, STATUS, LOSS, AUDIENCE, FACILITATION, COST,
                           TIME_BAND, DAYS, LANGUAGE)}
