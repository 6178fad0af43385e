"""Business rules; they never see a Chalice request and reach DynamoDB only through the repository.

Each module here runs when first used, not when imported (chalicelib/lazy.py): a cold start pays only
for the services its handler calls.
"""

from chalicelib.lazy import defer

defer(__name__, __path__)
