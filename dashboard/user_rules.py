"""What a user's e-mail address and password must be, wherever a user is created or a password set."""

from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; a bound keeps hashing cheap
ESTIMATED_LENGTH = 72  # zxcvbn refuses longer input (its estimate grows quadratically): it judges the start
# zxcvbn's 0-4 scale: 3 is "safely unguessable" (about 10^8 guesses or more): it refuses the common passwords
# of its bundled lists (and their l33t, reversed and repeated forms), keyboard walks, sequences and dates.
MIN_PASSWORD_SCORE = 3


def normalize_email(email: object) -> str:
    """The address in its normal form (domain lower-cased), or ValueError saying what is wrong with it."""
    if not isinstance(email, str) or not email.strip():
        raise ValueError("give an e-mail address")
    try:
        # No DNS lookup (machines may be offline); `test_environment` keeps the reserved .test domain usable
        # for demos and tests, while other special-use names (localhost, .invalid, ...) are still refused.
        return validate_email(email.strip(), check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as error:
        raise ValueError(f"not a valid e-mail address: {error}") from None


def check_password(password: object, *, email: str = "", name: str = "") -> None:
    """ValueError unless the password is long enough and not a common or easily guessed one."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    personal = [part for part in (email, email.split("@")[0], name) if part]
    verdict = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=personal)
    if verdict["score"] < MIN_PASSWORD_SCORE:
        why = verdict["feedback"]["warning"] or "it is too easy to guess"
        raise ValueError(f"choose a less common password ({why.rstrip('.').lower()})")
