"""Checks for notebook 07 (classical machine learning and text: a spam filter).

A tokeniser, a bag-of-words count matrix over a given vocabulary, multinomial Naive Bayes fitted by counting,
and the rates that decide a spam filter's threshold. Each check names the common mistakes of its exercise
(``Mistake``): a wrong answer that equals what a function with that mistake returns gets the mistake's
diagnosis instead of a bare "expected …, got …".
"""

from __future__ import annotations

import re
import string

import numpy as np

from course_utils.checks.core import Mistake, Strings, Verdict, joined, joined_mistakes, recognising, run_check

__all__ = ["check_tokenize", "check_count_matrix", "check_naive_bayes_fit", "check_spam_filter_rates"]

# The token pattern of scikit-learn's CountVectorizer: runs of two or more word characters.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"

# --------------------------------------------------------------------------- reference answers


def _tokenize(text):
    return re.findall(TOKEN_PATTERN, text.lower())


def _count_matrix(token_lists, vocabulary):
    column = {word: index for index, word in enumerate(vocabulary)}
    counts = np.zeros((len(token_lists), len(vocabulary)), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        for token in tokens:
            if token in column:
                counts[row, column[token]] += 1
    return counts


def _class_word_totals(counts, labels):
    num_classes = int(labels.max()) + 1
    return np.stack([counts[labels == k].sum(axis=0) for k in range(num_classes)]).astype(np.float64)


def _naive_bayes_fit(counts, labels, alpha=1.0):
    counts, labels = np.asarray(counts, dtype=np.float64), np.asarray(labels)
    num_classes = int(labels.max()) + 1
    class_counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    totals = _class_word_totals(counts, labels) + alpha
    return np.log(class_counts / class_counts.sum()), np.log(totals / totals.sum(axis=1, keepdims=True))


def _spam_filter_rates(spam_scores, is_spam, threshold):
    flagged = np.asarray(spam_scores) >= threshold
    is_spam = np.asarray(is_spam, dtype=bool)
    caught, false_alarms = np.sum(flagged & is_spam), np.sum(flagged & ~is_spam)
    precision = caught / (caught + false_alarms) if caught + false_alarms else 1.0
    return np.array([precision, caught / is_spam.sum(), false_alarms / (~is_spam).sum()])


# --------------------------------------------------------------------------- exercise 1: tokenize

_TOKENIZE_MISTAKES = (
    Mistake("capital letters are kept: 'iPhone' and 'iphone' would be two different words; lower-case the text",
            lambda text: re.findall(TOKEN_PATTERN, text)),
    Mistake("the text was split at spaces only, so punctuation stays glued to the words ('iphone!') and "
            "one-letter words stay in; a token is a run of word characters, whatever surrounds it",
            lambda text: text.lower().split()),
    Mistake("one-letter words ('i', 'a', the 'e' of 'e-mail') are kept: a token needs at least two word "
            "characters",
            lambda text: re.findall(r"(?u)\b\w+\b", text.lower())),
    Mistake("only the letters a to z count: digits ('2002', '9am') and accented letters ('café') are word "
            "characters too",
            lambda text: re.findall(r"\b[a-z][a-z]+\b", text.lower())),
    Mistake("punctuation was stripped from the ends of space-separated pieces, so inner punctuation stays "
            "('don't', 'e-mail', 'c++'): split wherever a character is not a word character",
            lambda text: [piece for piece in (word.strip(string.punctuation) for word in text.lower().split())
                          if len(piece) > 1]),
)


@recognising(*_TOKENIZE_MISTAKES)
def check_tokenize(tokenize) -> Verdict:
    """``tokenize(text)`` -> list of str: lower-cased runs of two or more word characters, in order."""
    texts = ["I love my iPhone!",
             "Don't e-mail me at 9am; C++ and R are 2 languages.",
             "Café naïve façade, CAFÉ!!!",
             "snake_case_names, tabs\tand\nnew lines... http://www.example.com/free?x=1",
             "a I b",
             ""]
    cases = [((text,), Strings(_tokenize(text))) for text in texts]
    return run_check("tokenize", tokenize, cases, tolerance=0, mistakes=_TOKENIZE_MISTAKES,
                     start="Start by lower-casing the text; then find every run of word characters in it "
                           "(Python's `re` module finds all matches of a pattern at once).",
                     hint="A token is a run of at least two word characters (letters of any alphabet, digits, "
                          "underscore), cut out wherever another character stands; the list keeps the text's "
                          "order and repeats.")


# --------------------------------------------------------------------------- exercise 2: count_matrix

def _count_matrix_own_vocabulary(token_lists, vocabulary):
    return _count_matrix(token_lists, sorted({token for tokens in token_lists for token in tokens}))


_COUNT_MATRIX_MISTAKES = (
    Mistake("each entry is 1 when the word occurs and 0 when not: the task asks how many times it occurs",
            lambda token_lists, vocabulary: np.minimum(_count_matrix(token_lists, vocabulary), 1)),
    Mistake("the matrix is transposed: one row per text and one column per vocabulary word",
            lambda token_lists, vocabulary: _count_matrix(token_lists, vocabulary).T),
    Mistake("the columns come from a vocabulary built from these texts, not from the one passed in: that is "
            "fit on new text, where the exercise asks for transform (unseen words are dropped, absent "
            "vocabulary words get a column of zeros)",
            _count_matrix_own_vocabulary),
    Mistake("every row holds the counts of all the texts together: count each text's own tokens in its own row",
            lambda token_lists, vocabulary: np.tile(_count_matrix(token_lists, vocabulary).sum(axis=0),
                                                    (len(token_lists), 1))),
)


@recognising(*_COUNT_MATRIX_MISTAKES)
def check_count_matrix(count_matrix) -> Verdict:
    """``count_matrix(token_lists, vocabulary)`` -> (N, V) ints: entry [i, j] counts vocabulary[j] in text i."""
    vocabulary = ["hate", "iphone", "love", "my"]
    cases = [
        (([["love", "my", "iphone"], ["hate", "my", "iphone"]], vocabulary), None),
        (([["my", "my", "my", "iphone"], ["android", "love", "android"], []], vocabulary), None),
        (([["free", "money", "free"], ["money", "now"], ["free", "free", "free", "offer"]],
          ["click", "free", "money", "now", "offer"]), None),
    ]
    cases = [(args, _count_matrix(*args)) for args, _ in cases]
    return run_check("count_matrix", count_matrix, cases, tolerance=0, mistakes=_COUNT_MATRIX_MISTAKES,
                     start="Start with a table of zeros, one row per text and one column per vocabulary word, "
                           "and a way to find a word's column quickly (a dict from word to position).",
                     hint="Column j belongs to vocabulary[j], in the order given; a token that is not in the "
                          "vocabulary adds nothing; the result holds whole numbers.")


# --------------------------------------------------------------------------- exercise 3: naive_bayes_fit

_NB_NAMES = ("class_log_prior", "feature_log_prob")


def _nb_no_smoothing(counts, labels, alpha=1.0):
    return _naive_bayes_fit(counts, labels, alpha=0.0)


def _nb_smoothing_added_once(counts, labels, alpha=1.0):
    log_prior, _ = _naive_bayes_fit(counts, labels, alpha)
    totals = _class_word_totals(np.asarray(counts, dtype=np.float64), np.asarray(labels))
    return log_prior, np.log((totals + alpha) / (totals.sum(axis=1, keepdims=True) + alpha))


def _nb_not_logged(counts, labels, alpha=1.0):
    log_prior, log_prob = _naive_bayes_fit(counts, labels, alpha)
    return np.exp(log_prior), np.exp(log_prob)


def _nb_uniform_prior(counts, labels, alpha=1.0):
    _, log_prob = _naive_bayes_fit(counts, labels, alpha)
    num_classes = int(np.max(labels)) + 1
    return np.full(num_classes, -np.log(num_classes)), log_prob


def _nb_prior_from_words(counts, labels, alpha=1.0):
    _, log_prob = _naive_bayes_fit(counts, labels, alpha)
    words = _class_word_totals(np.asarray(counts, dtype=np.float64), np.asarray(labels)).sum(axis=1)
    return np.log(words / words.sum()), log_prob


def _nb_normalised_over_classes(counts, labels, alpha=1.0):
    log_prior, _ = _naive_bayes_fit(counts, labels, alpha)
    totals = _class_word_totals(np.asarray(counts, dtype=np.float64), np.asarray(labels)) + alpha
    return log_prior, np.log(totals / totals.sum(axis=0, keepdims=True))


def _nb_message_shares(counts, labels, alpha=1.0):
    log_prior, _ = _naive_bayes_fit(counts, labels, alpha)
    present = (np.asarray(counts) > 0).astype(np.float64)
    labels = np.asarray(labels)
    num_classes = int(labels.max()) + 1
    shares = np.stack([(present[labels == k].sum(axis=0) + alpha) / ((labels == k).sum() + 2 * alpha)
                       for k in range(num_classes)])
    return log_prior, np.log(shares)


_NB_MISTAKES = (
    Mistake("no smoothing: alpha was never added, so a word a class never used gets probability 0 (log −inf) "
            "and one unseen word vetoes the whole class; add alpha to every word count",
            _nb_no_smoothing),
    Mistake("alpha was added to each word's count but only once to the class total: the total must grow by "
            "alpha for every word of the vocabulary (alpha × V), or the probabilities do not sum to 1",
            _nb_smoothing_added_once),
    Mistake("these are probabilities, not their logarithms: return the logs (they add where probabilities "
            "multiply, and a product of thousands of small numbers underflows to 0)",
            _nb_not_logged),
    Mistake("the class priors are all equal: a class's prior is its share of the training messages",
            _nb_uniform_prior),
    Mistake("the priors were computed from the classes' word totals: a prior counts messages, not words",
            _nb_prior_from_words),
    Mistake("the word probabilities were normalised across the classes (each word's column sums to 1): each "
            "class's row must sum to 1 over the vocabulary",
            _nb_normalised_over_classes),
    Mistake("the word probabilities are shares of messages containing the word: that is Bernoulli Naive "
            "Bayes; the multinomial model counts every occurrence of every word",
            _nb_message_shares),
)


@recognising(*_NB_MISTAKES)
def check_naive_bayes_fit(naive_bayes_fit) -> Verdict:
    """``naive_bayes_fit(counts (N, V), labels (N,) ints 0..C-1, alpha)`` -> (class_log_prior (C,), feature_log_prob (C, V)).

    Compared with the reference to a relative error of 1e-10 on four cases; the reference agrees with
    scikit-learn's ``MultinomialNB(alpha=alpha)`` (``class_log_prior_``, ``feature_log_prob_``).
    """
    rng = np.random.default_rng(7)
    dense = (rng.integers(1, 6, size=(6, 4)), np.array([0, 1, 0, 0, 1, 0]), 1.0)  # every word in every class
    sparse = (np.array([[2, 0, 1, 0], [0, 3, 0, 0], [1, 1, 0, 0], [0, 0, 0, 4]]), np.array([0, 1, 0, 1]), 1.0)
    three_classes = (rng.poisson(0.7, size=(30, 12)), np.arange(30) % 3, 0.5)
    small_alpha = (rng.poisson(2.0, size=(20, 8)), (np.arange(20) % 5 == 0).astype(int), 0.01)
    cases = [(args, np.concatenate([part.ravel() for part in _naive_bayes_fit(*args)]))
             for args in (dense, sparse, three_classes, small_alpha)]
    return run_check("naive_bayes_fit", joined(naive_bayes_fit, _naive_bayes_fit, _NB_NAMES), cases,
                     tolerance=1e-10, describe_inputs=False, mistakes=joined_mistakes(_NB_MISTAKES, _naive_bayes_fit,
                                                                                      _NB_NAMES),
                     start="Start with one class: pick its rows of counts, add them up word by word, and think "
                           "about what to do with a word the class never used.",
                     hint="Two estimates, both as natural logs: each class's share of the messages, and within "
                          "each class each word's share of all its words after alpha is added to every count.")


# --------------------------------------------------------------------------- exercise 4: spam_filter_rates

def _rates_swapped(spam_scores, is_spam, threshold):
    precision, recall, ham_lost = _spam_filter_rates(spam_scores, is_spam, threshold)
    return np.array([recall, precision, ham_lost])


def _rates_strictly_above(spam_scores, is_spam, threshold):
    return _spam_filter_rates(spam_scores, is_spam, np.nextafter(threshold, np.inf))


def _rates_ham_lost_of_all(spam_scores, is_spam, threshold):
    precision, recall, ham_lost = _spam_filter_rates(spam_scores, is_spam, threshold)
    is_spam = np.asarray(is_spam, dtype=bool)
    return np.array([precision, recall, ham_lost * (~is_spam).sum() / len(is_spam)])


def _rates_ham_lost_is_false_discovery(spam_scores, is_spam, threshold):
    precision, recall, _ = _spam_filter_rates(spam_scores, is_spam, threshold)
    return np.array([precision, recall, 1 - precision])


def _rates_flag_below(spam_scores, is_spam, threshold):
    return _spam_filter_rates(-np.asarray(spam_scores, dtype=np.float64), is_spam, np.nextafter(-threshold, np.inf))


_RATES_MISTAKES = (
    Mistake("precision and recall are swapped: precision asks how much of the flagged mail is spam, recall "
            "how much of the spam was flagged",
            _rates_swapped),
    Mistake("a message whose score equals the threshold was not flagged: flag every score at or above it",
            _rates_strictly_above),
    Mistake("ham lost was divided by the number of all messages: it is the share of the good mail (ham) that "
            "the filter throws away",
            _rates_ham_lost_of_all),
    Mistake("ham lost was computed as 1 − precision, the share of the flagged mail that is ham; the task asks "
            "for the share of all ham that got flagged",
            _rates_ham_lost_is_false_discovery),
    Mistake("the messages below the threshold were flagged: a high spam score means spam",
            _rates_flag_below),
)


@recognising(*_RATES_MISTAKES)
def check_spam_filter_rates(spam_filter_rates) -> Verdict:
    """``spam_filter_rates(spam_scores (N,), is_spam (N,) bool, threshold)`` -> array [precision, recall, ham_lost]."""
    rng = np.random.default_rng(11)
    scores = np.round(rng.random(200), 2)  # rounded, so that several scores equal each threshold
    is_spam = rng.random(200) < scores  # high scores are more often spam
    cases = [
        ((np.array([0.9, 0.8, 0.7, 0.4, 0.2, 0.1]), np.array([True, True, False, True, False, False]), 0.5), None),
        ((np.array([0.9, 0.6, 0.6, 0.3, 0.6, 0.1]), np.array([True, False, True, False, True, False]), 0.6), None),
        ((scores, is_spam, 0.5), None),
        ((scores, is_spam, 0.93), None),
        ((np.array([0.2, 0.4, 0.1]), np.array([True, False, False]), 0.9), None),  # nothing flagged
    ]
    cases = [(args, _spam_filter_rates(*args)) for args, _ in cases]
    return run_check("spam_filter_rates", spam_filter_rates, cases, tolerance=1e-12, mistakes=_RATES_MISTAKES,
                     describe_inputs=False,
                     start="Start with one boolean array: which messages the filter flags as spam at this "
                           "threshold; every rate is a count of agreements between it and is_spam.",
                     hint="Flag a message when its score is at or above the threshold. Precision: spam among the "
                          "flagged (1.0 when nothing is flagged); recall: flagged among the spam; ham lost: "
                          "flagged among the ham.")
