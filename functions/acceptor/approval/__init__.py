"""Human decisions on held requests (docs/operations.md, "Approving a held request"): who may
decide, the approval record, and Slack's signed interactions. Pure: no AWS, no clock."""
