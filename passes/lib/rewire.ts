/**
 * Replacing a value everywhere while keeping the model's interface: graph output names are what callers feed and
 * fetch by, so a rewrite that would rename one is refused (it returns false) instead.
 */
import type { Graph } from '../../src/ir/graph.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';

/**
 * Makes readers of `from` read `to` (an Identity's output → its input). When `from` is a graph output, `to` takes
 * its name; that works only for a value a node produces that is not itself an input or output of the graph.
 */
export function bypass(graph: Graph, from: Value, to: Value): boolean {
  if (from === to) return false;
  if (from.isGraphOutput) {
    if (to.isGraphInput || to.isGraphOutput || to.initializer || !to.producer) return false;
    graph.replaceAllUsesWith(from, to, { graphOutputs: true });
    return true;
  }
  graph.replaceAllUsesWith(from, to);
  return true;
}

/**
 * Turns the value a node computes into an initializer holding `tensor`, under the same name, and removes the node
 * when none of its outputs is read any more. The value object is replaced: callers must not hold on to it.
 */
export function replaceWithInitializer(graph: Graph, value: Value, tensor: Tensor): Value {
  const name = value.name;
  const init = graph.addInitializer(`${name}__constant`, tensor);
  graph.replaceAllUsesWith(value, init, { graphOutputs: true });
  const producer = value.producer;
  if (producer?.graph === graph && producer.outputs.every((o) => o.useCount === 0 && !o.isGraphOutput)) graph.remove(producer);
  if (!graph.value(name)) graph.renameValue(init, name);
  return init;
}
