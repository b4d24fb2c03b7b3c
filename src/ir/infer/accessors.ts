/** What passes ask of a value's type, failing with a message that names the value when inference could not tell. */
import { SdxlOptError } from '../../errors.js';
import type { DataType } from '../../onnx/dtype.js';
import type { Dim, Value } from '../value.js';

function where(value: Value): string {
  return value.producer ? `${value.producer}` : value.isGraphInput ? 'graph input' : 'initializer';
}

const HINT = 'run inferTypes on the graph first; if it was run, the producing op has no inference rule';

export function dtypeOf(value: Value): DataType {
  const t = value.type?.dtype;
  if (t === undefined) throw new SdxlOptError('BAD_MODEL', `the element type of ${value} is unknown`, { where: where(value), hint: HINT });
  return t;
}

/** The shape, dims possibly symbolic or unknown; throws when even the rank is unknown. */
export function shapeOf(value: Value): Dim[] {
  const s = value.type?.shape;
  if (!s) throw new SdxlOptError('BAD_MODEL', `the shape of ${value} is unknown`, { where: where(value), hint: HINT });
  return s;
}

/** The shape as numbers; throws when a dim is symbolic or unknown (fix dims with inferTypes' `dims`). */
export function staticShapeOf(value: Value): number[] {
  const s = shapeOf(value);
  if (!s.every((d): d is number => typeof d === 'number')) {
    throw new SdxlOptError('BAD_MODEL', `the shape of ${value} is not static: [${s.map((d) => d ?? '?').join(', ')}]`, {
      where: where(value),
      hint: 'give sizes for the symbolic dims (batch, height, width, sequence) so every shape is known',
    });
  }
  return s;
}
