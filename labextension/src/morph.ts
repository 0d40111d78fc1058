/**
 * Patch a DOM tree in place to match another one (attributes, text, children), so that
 * nodes that stay the same are kept: hover, focus and a click in progress survive updates.
 */

function sameKind(a: Node, b: Node): boolean {
  if (a.nodeType !== b.nodeType) {
    return false;
  }
  if (a instanceof Element && b instanceof Element) {
    return a.tagName === b.tagName && a.namespaceURI === b.namespaceURI;
  }
  return true;
}

/** Make `target` look like `source` (whose nodes may be moved into `target`). */
export function morph(target: Element, source: Element): void {
  for (const { name } of Array.from(target.attributes)) {
    if (!source.hasAttribute(name)) {
      target.removeAttribute(name);
    }
  }
  for (const { name, value } of Array.from(source.attributes)) {
    if (target.getAttribute(name) !== value) {
      target.setAttribute(name, value);
    }
  }
  const existing = Array.from(target.childNodes);
  const wanted = Array.from(source.childNodes);
  wanted.forEach((node, index) => {
    const current = existing[index];
    if (!current) {
      target.appendChild(node);
    } else if (!sameKind(current, node)) {
      target.replaceChild(node, current);
    } else if (current instanceof Element) {
      morph(current, node as Element);
    } else if (current.nodeValue !== node.nodeValue) {
      current.nodeValue = node.nodeValue;
    }
  });
  for (const extra of existing.slice(wanted.length)) {
    target.removeChild(extra);
  }
}
