"""Text models: BERT (Hugging Face compatible), sentence embeddings, an LSTM language
model and text classifiers."""

from ember.text.models.bert import BertConfig, BertModel, BertOutput, mean_pooling
from ember.text.models.classifier import BagOfEmbeddingsClassifier, LSTMClassifier
from ember.text.models.lstm_lm import LSTMLanguageModel
from ember.text.models.sentence import SentenceEncoder

__all__ = [
    "BagOfEmbeddingsClassifier",
    "BertConfig",
    "BertModel",
    "BertOutput",
    "LSTMClassifier",
    "LSTMLanguageModel",
    "SentenceEncoder",
    "mean_pooling",
]
