// Building the page's elements. Names from the logs only ever become text nodes, never HTML.

export function element(doc, tag, attributes = {}, ...children) {
  const node = doc.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children); // strings become text nodes
  return node;
}

export function labelled(doc, id, text, control) {
  control.id = id;
  return element(doc, "label", { for: id }, text, control);
}

export function picker(doc, label, choices, value) {
  const select = element(doc, "select", { "aria-label": label });
  for (const [key, text] of choices) select.append(element(doc, "option", { value: key }, text));
  select.value = value;
  return select;
}
