"""Text models: BERT (Hugging Face compatible), sentence embeddings, an LSTM language
model and text classifiers."""

from ember.text.models.bert import BertConfig, BertModel, BertOutput, mean_pooling
from ember.text.models.sentence import SentenceEncoder

__all__ = ["BertConfig", "BertModel", "BertOutput", "SentenceEncoder", "mean_pooling"]
