"""Understanding visitor messages: language, terms, retrieval, intents, dates and slots.

Modules (see docs/assistant.md for how the engine uses them):

- `language.detect_language`: 'de', 'en' or 'other'.
- `text`: folding, stemmed terms with German compounds split, synonyms.
- `retrieval.search` / `retrieval.matching_personal_topic`: knowledge entries (BM25F, 0..1
  scores) and personal topics of one organisation.
- `intents.classify`: the intent of a message (scikit-learn, trained at first use).
- `dates.parse_when` / `dates.describe_when`: the day and time a visitor means.
- `slots`: e-mail, ticket count, yes/no/cancel.
"""
