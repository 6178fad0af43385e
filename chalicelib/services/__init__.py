"""Business rules; they never see a Chalice request and reach DynamoDB only through the repository."""
