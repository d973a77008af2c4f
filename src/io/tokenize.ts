import { GradlensError } from '../gpu/errors.ts';

/** Markers word-level vocabularies use (BERT's and RoBERTa's spellings). */
const START = ['[CLS]', '<s>'];
const END = ['[SEP]', '</s>'];
const UNKNOWN = ['[UNK]', '<unk>'];

/**
 * Text to ids for a word-level vocabulary (id → token), enough for demos and small models: lower case, words and
 * punctuation marks split apart, unknown words as the vocabulary's [UNK]; [CLS] / <s> first and [SEP] / </s> last where
 * the vocabulary has them. Models with subword vocabularies (WordPiece, BPE) need their own tokenizer: give their ids.
 * Errors: BAD_INPUT for an unknown word in a vocabulary without an unknown token, or for no words at all.
 */
export function tokenize(text: string, vocabulary: readonly string[]): { tokens: string[]; ids: number[] } {
  const index = new Map(vocabulary.map((token, id) => [token, id] as const));
  const marker = (names: readonly string[]) => names.find((name) => index.has(name));
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+|[^\s\p{L}\p{N}]/gu) ?? [];
  if (words.length === 0) throw new GradlensError('BAD_INPUT', 'the text has no words to explain');
  const unknown = marker(UNKNOWN);
  const tokens = words.map((word) => {
    if (index.has(word)) return word;
    if (unknown === undefined) throw new GradlensError('BAD_INPUT', `"${word}" is not in the model's vocabulary, which has no unknown token`);
    return unknown;
  });
  const [start, end] = [marker(START), marker(END)];
  const all = [...(start === undefined ? [] : [start]), ...tokens, ...(end === undefined ? [] : [end])];
  return { tokens: all, ids: all.map((token) => index.get(token)!) };
}
