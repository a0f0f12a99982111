/** The four answer letters of the multiple-choice benchmarks, in choice order. */
export const CHOICE_LETTERS = ['A', 'B', 'C', 'D'] as const;
export type ChoiceLetter = (typeof CHOICE_LETTERS)[number];

/** Where a question came from, for error messages and per-question output. */
export interface ItemSource {
  file: string;
  /** 1-based line of the file where the row starts (a quoted field may span lines). */
  line: number;
}

/** One four-way multiple-choice question, whatever file layout it was read from. */
export interface McqItem {
  question: string;
  choices: [string, string, string, string];
  /** Index of the right choice (0 = A … 3 = D). */
  answer: number;
  source: ItemSource;
}

/** What a loader does with a row it cannot use: stop with an error (default) or warn and skip it. */
export type BadRowPolicy = 'error' | 'skip';
