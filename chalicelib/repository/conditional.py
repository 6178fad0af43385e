"""Conditional writes: the one place that tells "the condition did not hold" apart from a real failure."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

CONDITION_FAILED = "ConditionalCheckFailedException"


def save_if(item: Model, condition: Condition | None) -> bool:
    """Save `item` when `condition` (and a versioned model's own version check) holds; False when it does not.
    Any other failure raises."""
    try:
        item.save(condition=condition)
    except PutError as error:
        if error.cause_response_code != CONDITION_FAILED:
            raise
        return False
    return True


def update_if(item: Model, actions: list[Any], condition: Condition) -> bool:
    """Apply `actions` to `item` when `condition` holds; False when it does not. Any other failure raises."""
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as error:
        if error.cause_response_code != CONDITION_FAILED:
            raise
        return False
    return True


def condition_failed(error: Exception) -> bool:
    """Whether a botocore ClientError is a failed condition (for writes made with the low-level client)."""
    return bool(getattr(error, "response", {}).get("Error", {}).get("Code") == CONDITION_FAILED)
