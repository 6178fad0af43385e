"""The only layer that talks to DynamoDB: PynamoDB models and data-access functions."""
