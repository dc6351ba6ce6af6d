"""Models of authorization: rules, authorization tasks and decisions, the posting outbox."""
