/**
 * A recording stand-in for a vscode.WebviewPanel: what the host posts lands in `posted`,
 * `send` delivers a message from the "webview" to the host's handler.
 */
export function fakePanel() {
  const posted: unknown[] = [];
  let receive: (m: unknown) => void = () => {};
  const panel = {
    active: true,
    webview: {
      options: {}, html: '', cspSource: 'vscode-webview:', asWebviewUri: <U>(u: U) => u,
      postMessage: async (m: unknown) => { posted.push(m); return true; },
      onDidReceiveMessage: (h: (m: unknown) => void) => { receive = h; return { dispose() {} }; },
    },
    onDidChangeViewState: () => ({ dispose() {} }),
    onDidDispose: () => ({ dispose() {} }),
  };
  return { panel, posted, send: (m: unknown) => receive(m) };
}
