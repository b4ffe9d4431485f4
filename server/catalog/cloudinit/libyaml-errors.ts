/** Where and how libyaml (which yaml.v3 embeds) reports a syntax error, as the `yaml` package does not. */
import { CST, Lexer } from 'yaml';
/**
 * The libyaml message for the common syntax errors (the ones §1.4 quotes and their neighbours);
 * anything else keeps the parser's own first sentence.
 */
export function libyamlWording(code: string, message: string, offset: number, text: string): { offset: number; message: string } {
  const own = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'TAB_AS_INDENT':
    case 'BAD_SCALAR_START':
      return { offset, message: 'found character that cannot start any token' };
    case 'BAD_DQ_ESCAPE':
      return { offset, message: 'found unknown escape character' };
    case 'BLOCK_AS_IMPLICIT_KEY': {
      // libyaml stops at the second ':' of `a: b: c`, possibly on a later line
      const colon = /:(?=[ \t\r\n]|$)/g;
      colon.lastIndex = offset;
      const match = colon.exec(text);
      return { offset: match ? match.index : offset, message: 'mapping values are not allowed in this context' };
    }
    case 'MISSING_CHAR':
      if (own.startsWith('Implicit map keys need to be followed by map values')) return { offset, message: "could not find expected ':'" };
      if (own.startsWith('Missing closing')) return { offset, message: 'found unexpected end of stream' };
      return { offset, message: own };
    case 'BAD_INDENT':
      if (own.startsWith('Flow sequence')) return { offset, message: "did not find expected ',' or ']'" };
      if (own.startsWith('Flow map')) return { offset, message: "did not find expected ',' or '}'" };
      return { offset, message: own };
    default:
      return { offset, message: own };
  }
}

/**
 * libyaml refuses a tab where a token could start in block context: at the start of a line (after
 * the indentation spaces) and after `-`, `?` or `:`. The `yaml` package accepts most of these, so
 * they are found on its token stream. Returns the offset of the first such tab.
 */
export function findForbiddenTab(text: string, end: number): number | undefined {
  let offset = 0;
  let flow = 0;
  let armed = true;
  let scalarBody = false;
  for (const token of new Lexer().lex(text)) {
    if (offset >= end) return undefined;
    if (token === CST.DOCUMENT || token === CST.FLOW_END) continue;
    if (token === CST.SCALAR) {
      scalarBody = true;
      continue;
    }
    if (scalarBody) {
      scalarBody = false;
      armed = false;
      offset += token.length;
      continue;
    }
    switch (CST.tokenType(token)) {
      case 'newline':
        armed = flow === 0;
        break;
      case 'space':
        if (armed && flow === 0 && token.includes('\t')) return offset + token.indexOf('\t');
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
      case 'map-value-ind':
        armed = flow === 0;
        break;
      case 'flow-map-start':
      case 'flow-seq-start':
        flow++;
        armed = false;
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        flow = Math.max(0, flow - 1);
        armed = false;
        break;
      case 'byte-order-mark':
        break;
      default:
        armed = false;
    }
    offset += token.length;
  }
  return undefined;
}
