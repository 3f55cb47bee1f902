// A small Markdown renderer for replies: code blocks, inline code, headings, lists, bold, italic and
// paragraphs. Safe by construction: the text is HTML-escaped first, and only the tags made here
// (with no attributes taken from the text but a code block's [\w-] language name) are added.
"use strict";

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
             .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// Bold and italic outside `code` spans; the text is already escaped.
function renderInline(escaped) {
  return escaped.split(/(`[^`\n]+`)/).map((part, i) => {
    if (i % 2 === 1) return "<code>" + part.slice(1, -1) + "</code>";
    return part.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
               .replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>");
  }).join("");
}

// Headings, lists and paragraphs of text outside code blocks.
function renderBlocks(escaped) {
  const out = [];
  let list = null;      // "ul" or "ol" while inside a list
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push("<p>" + paragraph.map(renderInline).join("<br>") + "</p>");
    paragraph = [];
    if (list) out.push("</" + list + ">");
    list = null;
  };
  for (const line of escaped.split("\n")) {
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const item = /^\s*(?:([-*+])|\d+[.)])\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const level = heading[1].length;
      out.push("<h" + level + ">" + renderInline(heading[2]) + "</h" + level + ">");
    } else if (item) {
      const kind = item[1] ? "ul" : "ol";
      if (paragraph.length || list !== kind) flush();
      if (!list) { out.push("<" + kind + ">"); list = kind; }
      out.push("<li>" + renderInline(item[2]) + "</li>");
    } else if (line.trim() === "") {
      flush();
    } else {
      if (list) flush();
      paragraph.push(line);
    }
  }
  flush();
  return out.join("");
}

// Fenced code blocks (```lang ... ```) are kept verbatim; an unclosed fence (a reply still
// streaming) runs to the end.
function renderMarkdown(text) {
  const escaped = escapeHtml(text);
  const out = [];
  const fence = /```([\w-]*)[^\n]*\n?([\s\S]*?)(?:```|$)/g;
  let last = 0;
  for (let m; (m = fence.exec(escaped)) !== null && m[0].length > 0;) {
    out.push(renderBlocks(escaped.slice(last, m.index)));
    const lang = m[1] ? ' class="language-' + m[1] + '"' : "";
    out.push("<pre><code" + lang + ">" + m[2].replace(/\n$/, "") + "</code></pre>");
    last = fence.lastIndex;
  }
  out.push(renderBlocks(escaped.slice(last)));
  return out.join("");
}
