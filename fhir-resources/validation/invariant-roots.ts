import { AsAtom, DotAtom, FhirPathAtom, FunctionAtom, InfixOperatorAtom, IsAtom, LiteralAtom, SymbolAtom } from '@medplum/core';

/**
 * The elements an invariant can see, where it sees nothing else: the first step of each of its paths, when every path
 * starts at the element the invariant is on and nothing in it reaches elsewhere (`%resource`, `%context`, a type
 * name). Such an invariant has, on an element without any of them, the value it has on an empty one — most of
 * R4's are of that kind (`contained.contained.empty()`, `dataAbsentReason.empty() or value.empty()`), and most
 * elements lack what they speak of. Undefined for anything this cannot be sure of.
 */
export function invariantRoots(atom: unknown): Set<string> | undefined {
  if (atom instanceof FhirPathAtom) return invariantRoots(atom.child);
  if (atom instanceof LiteralAtom) return new Set();
  if (atom instanceof SymbolAtom) {
    // A capitalised name may be the context's own resource type, which names the context itself.
    return /^[a-z][A-Za-z0-9]*$/.test(atom.name) ? new Set([atom.name]) : undefined;
  }
  if (atom instanceof DotAtom) {
    const roots = invariantRoots(atom.left);
    return roots && staysWithin(atom.right) ? roots : undefined;
  }
  if (atom instanceof AsAtom || atom instanceof IsAtom) return undefined;
  if (atom instanceof InfixOperatorAtom) {
    const left = invariantRoots(atom.left);
    const right = invariantRoots(atom.right);
    return left && right ? new Set([...left, ...right]) : undefined;
  }
  return undefined;
}

/** True when `atom`, applied to a path's values, reads only them: no variable anywhere in it. */
function staysWithin(atom: unknown): boolean {
  if (atom instanceof SymbolAtom) return !atom.name.startsWith('%');
  if (atom instanceof LiteralAtom) return true;
  if (atom instanceof FunctionAtom) return atom.args.every(staysWithin);
  if (atom instanceof FhirPathAtom) return staysWithin(atom.child);
  if (atom instanceof InfixOperatorAtom) return staysWithin(atom.left) && staysWithin(atom.right);
  return false;
}
