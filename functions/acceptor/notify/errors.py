"""The few ways a notification can fail. Adapters translate AWS and HTTP errors into these.

No message here ever carries a webhook URL or a secret value: they name the secret or
parameter instead, so that they can be logged as they are.
"""

from __future__ import annotations


class NotificationError(Exception):
    """A channel could not be told; the others still are, then the invocation fails."""


class ChannelMisconfigured(NotificationError):
    """The policy names a channel that cannot be used as configured."""


class SecretUnavailable(NotificationError):
    """The secret or parameter holding a webhook URL could not be read or is not a URL."""


class WebhookFailed(NotificationError):
    """The webhook answered with something other than 2xx, or did not answer in time."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PublishFailed(NotificationError):
    """SNS refused the message."""


class UnsupportedEvent(ValueError):
    """An event that NotifyFunction has no rule for: a wiring mistake, dead-lettered."""


class DeliveryFailed(Exception):
    """Some channels failed after every channel was tried; raised so that Lambda retries.

    `failures` pairs each failed channel with its error text (never a URL); channels that
    succeeded are in `sent` and are skipped on the retry thanks to idempotency.
    """

    def __init__(self, failures: tuple[tuple[str, str], ...], sent: tuple[str, ...]) -> None:
        self.failures = failures
        self.sent = sent
        listed = "; ".join(f"{channel}: {error}" for channel, error in failures)
        super().__init__(f"{len(failures)} channel(s) failed: {listed}")


class AccountNameUnavailable(Exception):
    """Organizations did not say the account's name; the message shows the ID alone."""


class DeliveryDeferred(NotificationError):
    """The de-duplication store could not say whether this delivery was made (or another
    invocation is making it right now): not sent, so that the retry decides."""
