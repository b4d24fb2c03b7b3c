/**
 * Replacing a value everywhere while keeping the model's interface: graph output names are what callers feed and
 * fetch by, so a rewrite that would rename one is refused (it returns false) instead.
 */
import type { Graph } from '../../src/ir/graph.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';

/** Read by name from inside a subgraph (an If or Loop body), where renaming the value would not reach. */
function readInSubgraph(value: Value): boolean {
  return value.uses().some((u) => u.index < 0);
}

/**
 * Makes readers of `from` read `to` (an Identity's output → its input). When `from` is a graph output, `to` takes
 * its name; that works only for a value a node produces that is not itself an input or output of the graph, and
 * that no subgraph reads by its current name.
 */
export function bypass(graph: Graph, from: Value, to: Value): boolean {
  if (from === to) return false;
  if (from.isGraphOutput) {
    if (to.isGraphInput || to.isGraphOutput || to.initializer || !to.producer || readInSubgraph(to)) return false;
    graph.replaceAllUsesWith(from, to, { graphOutputs: true });
    return true;
  }
  graph.replaceAllUsesWith(from, to);
  return true;
}

/**
 * Turns the value a node computes into an initializer holding `tensor`, under the same name where it can, and
 * removes the node when none of its outputs is read any more. Returns the initializer, or undefined when the value
 * is a graph output that a subgraph also reads (its name could not be kept). Callers must not hold on to `value`.
 */
export function replaceWithInitializer(graph: Graph, value: Value, tensor: Tensor): Value | undefined {
  const name = value.name;
  // replaceAllUsesWith rewrites subgraphs to the initializer's temporary name; a later rename would not reach them.
  const keepTemporaryName = readInSubgraph(value);
  if (keepTemporaryName && value.isGraphOutput) return undefined;
  const init = graph.addInitializer(`${name}__constant`, tensor);
  graph.replaceAllUsesWith(value, init, { graphOutputs: true });
  const producer = value.producer;
  if (producer?.graph === graph && producer.outputs.every((o) => o.useCount === 0 && !o.isGraphOutput)) graph.remove(producer);
  if (!keepTemporaryName && !graph.value(name)) graph.renameValue(init, name);
  return init;
}
