/** Rules R1–R6 (rules.go); validate.ts runs them in this order. */
import { Rank } from './findings.js';
import type { Report } from './findings.js';
import { decodeContent } from './go-content.js';
import { goFormatV, goQuote, goReflectBytes, goReflectString } from './go-format.js';
import { goParseRequestURI, goPathDir } from './go-path-url.js';
import type { GoValue } from './go-value.js';
import { CLOUD_CONFIG, findField, humanType } from './schema.js';
import type { FieldSpec, SchemaType } from './schema.js';
import { childOf, isCompatible, kindOf } from './validator-tree.js';
import type { VNode } from './validator-tree.js';
/** R1: coreos.etcd.discovery (etcd 0.4 only) must pass url.ParseRequestURI. */
export function checkDiscoveryUrl(root: VNode, report: Report): void {
  const node = childOf(childOf(childOf(root, 'coreos'), 'etcd'), 'discovery');
  if (node?.value === undefined) return;
  if (!goParseRequestURI(goReflectString(node.value))) report.warning(node.line, 'discovery URL is not valid', Rank.DiscoveryUrl);
}

/** R2: every write_files entry with an encoding must decode its content. */
export function checkEncoding(root: VNode, report: Report): void {
  for (const file of childOf(root, 'write_files')?.children ?? []) {
    const encoding = childOf(file, 'encoding');
    if (encoding?.value === undefined) continue;
    const content = childOf(file, 'content');
    const name = goReflectString(encoding.value);
    if (!decodeContent(goReflectBytes(content?.value), name)) {
      report.error(content?.line ?? 0, `content cannot be decoded as ${goQuote(name)}`, Rank.Encoding);
    }
  }
}

/** R3: unknown keys, deprecated keys and type mismatches against the schema. */
export function checkStructure(node: VNode, type: SchemaType, report: Report): void {
  if (!isCompatible(kindOf(node.value), type.kind === 'struct' ? 'struct' : type.kind)) {
    report.warning(node.line, `incorrect type for ${goQuote(node.name)} (want ${humanType(type)})`, Rank.Structure);
    return;
  }
  if (type.kind === 'struct') {
    for (const child of node.children) {
      const field = findField(type, child.name);
      if (!field) {
        report.warning(child.line, `unrecognized key ${goQuote(child.name)}`, Rank.Structure);
        continue;
      }
      if (field.deprecated) report.warning(child.line, `deprecated key ${goQuote(child.name)} (${field.deprecated})`, Rank.Structure);
      checkStructure(child, field.type, report);
    }
  } else if (type.kind === 'slice') {
    for (const child of node.children) checkStructure(child, type.elem, report);
  }
}

/** R4: non-zero values must match their `valid` pattern. Returns the panics (validation failures). */
export function checkValidity(root: VNode, report: Report): Array<{ line: number; message: string }> {
  const panics: Array<{ line: number; message: string }> = [];
  const visit = (node: VNode, type: SchemaType, field: FieldSpec | undefined) => {
    if (field?.valid) {
      const value = node.value;
      if (value === undefined) {
        panics.push({
          line: node.line,
          message: `null value for ${goQuote(node.name)} makes coreos-cloudinit -validate fail (reflect: call of reflect.Value.Interface on zero Value)`,
        });
      } else if (value.k === 'map' || value.k === 'slice') {
        panics.push({ line: node.line, message: `coreos-cloudinit -validate fails: runtime error: comparing uncomparable type for ${goQuote(node.name)}` });
      } else if (!isZeroValue(value) && !field.valid.test(goFormatV(value))) {
        report.error(node.line, `invalid value ${goFormatV(value)}`, Rank.Validity);
      }
    }
    if (type.kind === 'struct') {
      for (const child of node.children) {
        const childField = findField(type, child.name);
        if (childField) visit(child, childField.type, childField);
      }
    } else if (type.kind === 'slice') {
      for (const child of node.children) visit(child, type.elem, undefined);
    }
  };
  visit(root, CLOUD_CONFIG, undefined);
  return panics;
}

/** R5: nothing may be written under /usr (path.Dir, cleaned, starting with /usr, as in Go). */
export function checkWriteFiles(root: VNode, report: Report): void {
  for (const file of childOf(root, 'write_files')?.children ?? []) {
    const path = childOf(file, 'path');
    if (path?.value === undefined) continue;
    if (goPathDir(goReflectString(path.value)).startsWith('/usr')) {
      report.error(path.line, 'file cannot be written to a read-only filesystem', Rank.WriteFiles);
    }
  }
}

/** R6: coreos.write_files (an info in Go; this API only has errors and warnings). */
export function checkWriteFilesUnderCoreos(root: VNode, report: Report): void {
  const node = childOf(childOf(root, 'coreos'), 'write_files');
  if (node?.value !== undefined) report.warning(node.line, "write_files doesn't belong under coreos", Rank.WriteFilesUnderCoreos);
}

function isZeroValue(value: GoValue): boolean {
  switch (value.k) {
    case 'string':
      return value.s === '' && (value.bytes === undefined || value.bytes.length === 0);
    case 'int':
    case 'uint64':
      return value.n === 0n;
    case 'float64':
      return value.f === 0;
    case 'bool':
      return !value.b;
    case 'time':
      return true; // time.Time has only unexported fields, which isZero skips
    default:
      return false;
  }
}
