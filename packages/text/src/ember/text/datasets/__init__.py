"""Text datasets in their original formats, downloaded through ember.hub with
checksums and streamed (``IterableDataset``) so large corpora never sit in memory."""

from ember.text.datasets._base import DatasetNotFoundError, Resource, TextIterableDataset
from ember.text.datasets.classification import AG_NEWS, IMDB, SST2, DBpedia, YelpReviewPolarity
from ember.text.datasets.language_modeling import PennTreebank, WikiText2, WikiText103
from ember.text.datasets.structured import CoNLL2000Chunking, Multi30k, SQuAD1, SQuAD2

__all__ = [
    "AG_NEWS",
    "CoNLL2000Chunking",
    "DBpedia",
    "DatasetNotFoundError",
    "IMDB",
    "Multi30k",
    "PennTreebank",
    "Resource",
    "SQuAD1",
    "SQuAD2",
    "SST2",
    "TextIterableDataset",
    "WikiText2",
    "WikiText103",
    "YelpReviewPolarity",
]
