"""One thin module per Lambda function: Powertools decorators, the event parsed at the
boundary, the settings read on entry, one flow called, its result returned."""
