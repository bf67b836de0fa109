"""Text analysis for BM25: elision, accents, stop words, stemming per language, codes, n-grams."""

from __future__ import annotations

import pytest

from knowledge_index.analysis import analyze, char_ngrams, error_code_keys, fold_accents, index_terms


def test_accents_fold_and_case():
    assert fold_accents("Numérisation à l'écran, cœur") == "Numerisation a l'ecran, coeur"
    assert analyze("NUMÉRISATION", "fr") == analyze("numerisation", "fr") == ["numeris"]
    # Typed without accents, a participle still meets its accented form and its verb.
    assert analyze("numérisée", "fr") == analyze("numerisee", "fr") == analyze("numériser", "fr")


@pytest.mark.parametrize("elided", ["l'imprimante", "l’imprimante", "d'imprimante", "qu'imprimante", "j'imprimante",
                                    "n'imprimante", "s'imprimante", "c'imprimante"])
def test_french_elision(elided):
    assert analyze(elided, "fr") == analyze("imprimante", "fr") == ["imprim"]


def test_french_sentence():
    # Stop words go ("ne", "pas", "la"), inflections meet: imprimante / imprime / imprimer.
    assert analyze("L'imprimante n'imprime pas la numérisation", "fr") == ["imprim", "imprim", "numeris"]
    assert analyze("bourrages papier", "fr") == analyze("bourrage de papiers", "fr") == ["bourrag", "papi"]


def test_english_stemming_and_stop_words():
    assert analyze("The printer's trays are jammed", "en") == ["printer", "tray", "jam"]
    assert analyze("scanning scanned scans", "en") == ["scan", "scan", "scan"]
    # The stemmer is chosen by language: English rules leave French words nearly alone.
    assert analyze("imprimantes", "en") != analyze("imprimantes", "fr")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_error_codes_stay_whole_and_are_not_stemmed(lang):
    terms = analyze("Error #0001, then E000007-0000 on the iR-ADV C5560i", lang)
    assert {"#0001", "e000007-0000", "c5560i"} <= set(terms)
    # Their parts too, so a user typing only "0001" or "E000007" still matches.
    assert {"0001", "e000007", "0000"} <= set(terms)
    assert analyze("#0001", lang) == ["#0001", "0001"]


def test_error_code_keys():
    assert error_code_keys("code #0037 sur le tiroir 2") == {"0037", "2"}
    # The first part too, so "E000007" meets "E000007-0000"; "#" is dropped, so "0037" meets "#0037".
    assert error_code_keys("l'erreur E000007-0000") == {"e000007-0000", "e000007"}
    assert error_code_keys("no code here") == frozenset()


def test_hyphenated_words_also_joined():
    assert analyze("Wi-Fi e-mail", "en") == ["wi", "fi", "wifi", "mail", "email"]


def test_char_ngrams():
    assert char_ngrams("Imprimante", "fr", 5) == ["~ impr", "~impri", "~mprim", "~prima", "~riman", "~imant",
                                                   "~mante", "~ante "]
    # A typo keeps the grams away from it, while the stems differ: the point of indexing them.
    typo, right = set(char_ngrams("imprimente", "fr")), set(char_ngrams("imprimante", "fr"))
    assert typo & right == {"~ impr", "~impri", "~mprim"}
    assert analyze("photocopieuse", "fr") != analyze("copieur", "fr")
    assert set(char_ngrams("photocopieuse", "fr")) & set(char_ngrams("copieur", "fr")) == {"~copie", "~opieu"}
    assert char_ngrams("le la les", "fr") == []  # stop words give none
    terms = index_terms("imprimante", "fr")
    assert terms[0] == "imprim" and set(terms[1:]) == right
    assert index_terms("imprimante", "fr", ngram=0) == ["imprim"]


def test_unsupported_language():
    with pytest.raises(ValueError, match="unsupported language 'de'"):
        analyze("Drucker", "de")
