"""The exercise checks of notebook 07 (classical machine learning and text): the references agree with
scikit-learn, each check accepts correct answers written differently, names its common mistakes and rejects
other wrong answers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import precision_score, recall_score
from sklearn.naive_bayes import MultinomialNB

from course_utils import checks
from course_utils.checks import text as text_checks


def _assert_named(check, capsys):
    for mistake in check.mistakes:
        assert not check(mistake.wrong), mistake.diagnosis
        assert mistake.diagnosis in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 1: tokenize

@pytest.mark.parametrize("text", ["I love my iPhone!", "Don't e-mail me at 9am; C++ and R.", "Café naïve, CAFÉ",
                                  "snake_case http://x.org/a?b=1", ""])
def test_the_reference_tokeniser_is_countvectorizers(text):
    assert text_checks._tokenize(text) == CountVectorizer().build_analyzer()(text)


def test_check_tokenize_accepts_other_correct_tokenisers(capsys):
    assert checks.check_tokenize(text_checks._tokenize)
    assert checks.check_tokenize(lambda text: tuple(re.findall(r"\b\w{2,}\b", text.lower())))   # a tuple is fine
    assert checks.check_tokenize(CountVectorizer().build_analyzer())
    _assert_named(checks.check_tokenize, capsys)


def test_check_tokenize_rejects_other_wrong_tokenisers(capsys):
    assert not checks.check_tokenize(lambda text: re.findall(r"\w\w\w+", text.lower()))   # three letters or more
    assert "item" in capsys.readouterr().out
    assert not checks.check_tokenize(lambda text: " ".join(re.findall(r"\b\w\w+\b", text.lower())))   # a string
    assert "list of strings" in capsys.readouterr().out
    assert not checks.check_tokenize(lambda text: sorted(set(re.findall(r"\b\w\w+\b", text.lower()))))   # a set
    assert "❌" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 2: count_matrix

def test_the_reference_count_matrix_is_countvectorizers_transform():
    train = ["I love my iPhone", "I hate my iPhone"]
    new = ["my my android", "love LOVE hate iphone", ""]
    vectorizer = CountVectorizer().fit(train)
    analyse = vectorizer.build_analyzer()
    mine = text_checks._count_matrix([analyse(text) for text in new], list(vectorizer.get_feature_names_out()))
    assert np.array_equal(mine, vectorizer.transform(new).toarray())


def test_check_count_matrix(capsys):
    assert checks.check_count_matrix(text_checks._count_matrix)

    def with_list_index(token_lists, vocabulary):
        return np.array([[tokens.count(word) for word in vocabulary] for tokens in token_lists], dtype=int)
    assert checks.check_count_matrix(with_list_index)
    _assert_named(checks.check_count_matrix, capsys)
    assert not checks.check_count_matrix(lambda token_lists, vocabulary: with_list_index(token_lists, vocabulary) * 1.0)
    assert "whole numbers" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 3: naive_bayes_fit

@pytest.mark.parametrize("alpha", [1.0, 0.1])
def test_the_reference_naive_bayes_is_sklearns(alpha):
    rng = np.random.default_rng(0)
    counts, labels = rng.poisson(0.5, size=(40, 15)), np.arange(40) % 3
    prior, likelihood = text_checks._naive_bayes_fit(counts, labels, alpha)
    reference = MultinomialNB(alpha=alpha).fit(counts, labels)
    assert np.abs(prior - reference.class_log_prior_).max() < 1e-12
    assert np.abs(likelihood - reference.feature_log_prob_).max() < 1e-12


def test_check_naive_bayes_fit(capsys):
    assert checks.check_naive_bayes_fit(text_checks._naive_bayes_fit)

    def by_sklearn(counts, labels, alpha=1.0):
        model = MultinomialNB(alpha=alpha).fit(counts, labels)
        return model.class_log_prior_, model.feature_log_prob_
    assert checks.check_naive_bayes_fit(by_sklearn)
    _assert_named(checks.check_naive_bayes_fit, capsys)
    assert not checks.check_naive_bayes_fit(lambda counts, labels, alpha=1.0: by_sklearn(counts, labels, alpha)[1])
    assert "tuple of 2" in capsys.readouterr().out
    assert not checks.check_naive_bayes_fit(lambda counts, labels, alpha=1.0: by_sklearn(counts, labels, 2 * alpha))
    assert "❌" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 4: spam_filter_rates

def test_the_reference_rates_are_sklearns():
    rng = np.random.default_rng(5)
    scores = np.round(rng.random(300), 2)
    is_spam = rng.random(300) < scores
    for threshold in (0.2, 0.5, 0.77):
        flagged = scores >= threshold
        precision, recall, ham_lost = text_checks._spam_filter_rates(scores, is_spam, threshold)
        assert precision == pytest.approx(precision_score(is_spam, flagged))
        assert recall == pytest.approx(recall_score(is_spam, flagged))
        assert ham_lost == pytest.approx(np.mean(flagged[~is_spam]))


def test_check_spam_filter_rates(capsys):
    assert checks.check_spam_filter_rates(text_checks._spam_filter_rates)

    def as_list(spam_scores, is_spam, threshold):
        flagged = [score >= threshold for score in spam_scores]
        caught = sum(f and s for f, s in zip(flagged, is_spam))
        alarms = sum(f and not s for f, s in zip(flagged, is_spam))
        precision = caught / (caught + alarms) if caught + alarms else 1.0
        return [precision, caught / sum(is_spam), alarms / (len(is_spam) - sum(is_spam))]
    assert checks.check_spam_filter_rates(as_list)
    _assert_named(checks.check_spam_filter_rates, capsys)


def test_the_string_comparison_is_exact_and_never_raises(capsys):
    from course_utils.checks.core import Strings, _compare

    assert _compare(["ab", "cd"], Strings(("ab", "cd")), 0)[0]
    assert not _compare(["ab"], Strings(("ab", "cd")), 0)[0]
    assert not _compare(["ab", "cd", "ef"], Strings(("ab", "cd")), 0)[0]
    assert not _compare([1, 2], Strings(("ab", "cd")), 0)[0]
    assert not _compare(None, Strings(("ab",)), 0)[0]
    assert _compare([], Strings(()), 0)[0]
