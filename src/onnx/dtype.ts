/** ONNX element types: codes, names and storage sizes (TensorProto.DataType). */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
  FLOAT6E2M3: 27,
  FLOAT6E3M2: 28,
} as const;

export type DataType = (typeof DataType)[keyof typeof DataType];

const NAMES = new Map<number, string>(Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]));

/** Storage bits per element; 0 for STRING (variable) and UNDEFINED. */
const BITS: Record<number, number> = {
  [DataType.FLOAT]: 32,
  [DataType.UINT8]: 8,
  [DataType.INT8]: 8,
  [DataType.UINT16]: 16,
  [DataType.INT16]: 16,
  [DataType.INT32]: 32,
  [DataType.INT64]: 64,
  [DataType.BOOL]: 8,
  [DataType.FLOAT16]: 16,
  [DataType.DOUBLE]: 64,
  [DataType.UINT32]: 32,
  [DataType.UINT64]: 64,
  [DataType.COMPLEX64]: 64,
  [DataType.COMPLEX128]: 128,
  [DataType.BFLOAT16]: 16,
  [DataType.FLOAT8E4M3FN]: 8,
  [DataType.FLOAT8E4M3FNUZ]: 8,
  [DataType.FLOAT8E5M2]: 8,
  [DataType.FLOAT8E5M2FNUZ]: 8,
  [DataType.UINT4]: 4,
  [DataType.INT4]: 4,
  [DataType.FLOAT4E2M1]: 4,
  [DataType.FLOAT8E8M0]: 8,
  [DataType.UINT2]: 2,
  [DataType.INT2]: 2,
  [DataType.FLOAT6E2M3]: 6,
  [DataType.FLOAT6E3M2]: 6,
};

export function isKnownDataType(code: number): code is DataType {
  return NAMES.has(code);
}

export function dataTypeName(code: number): string {
  return NAMES.get(code) ?? `unknown(${code})`;
}

export function dataTypeFromName(name: string): DataType | undefined {
  const aliases: Record<string, string> = { fp32: 'float', float32: 'float', fp16: 'float16', bf16: 'bfloat16', fp64: 'double', float64: 'double' };
  const key = (aliases[name.toLowerCase()] ?? name).toUpperCase();
  return (DataType as Record<string, DataType>)[key];
}

export function bitsPerElement(code: number): number {
  return BITS[code] ?? 0;
}

/** Bytes that `count` elements occupy in raw_data (sub-byte types pack, rounding up); undefined for strings. */
export function byteSizeOf(code: number, count: number): number | undefined {
  const bits = BITS[code];
  if (!bits) return undefined;
  return Math.ceil((count * bits) / 8);
}

export function isFloatType(code: number): boolean {
  return code === DataType.FLOAT || code === DataType.FLOAT16 || code === DataType.BFLOAT16 || code === DataType.DOUBLE;
}
