"""Stage 2-3 and 5: filter, review, tile and write the manifests.

``scan`` decodes, checks and tiles one source's files (keywords from ``keywords``), ``review`` reads the
person-edited review file, ``decide`` writes the manifests (duplicates, review overrides),
``review_page`` the contact sheet a person reviews, ``dataset_summary`` Table 1, ``materials`` the
material category of every tile."""
