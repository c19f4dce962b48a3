"""Standardization rules, one per data-element ``rule`` id (registered in :mod:`transforms.standardize`).

- :mod:`~transforms.rules.base`: the result type, the context, the protocol, text primitives.
- :mod:`~transforms.rules.identifiers`: resident ID, USCC, party ID, phone.
- :mod:`~transforms.rules.text`: free text, person names, identifiers, geometry.
- :mod:`~transforms.rules.dates`: dates and years.
- :mod:`~transforms.rules.numbers`: integers, decimals, coordinates.
- :mod:`~transforms.rules.codes`: code tables, industries, departments, divisions.
"""
