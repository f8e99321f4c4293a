"""The promotional-credits domain model: pure rules, no infrastructure."""
