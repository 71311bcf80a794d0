/** examples/digits/model/: where train.py writes the model, its held-out test set and its meta. */
export const DIGITS_MODEL_DIR: string;
/** Trains the model (examples/digits/train.py) unless model/ holds one made by the current train.py. */
export function makeDigitsModel(): void;
