/**
 * A recording stand-in for a vscode.WebviewPanel: what the host posts lands in `posted`,
 * `send` delivers a message from the "webview" to the host's handler.
 */
export function fakePanel() {
  const posted: unknown[] = [];
  let receive: (m: unknown) => void = () => {};
  let viewState: () => void = () => {};
  const panel = {
    active: true,
    webview: {
      options: {},
      html: '',
      cspSource: 'vscode-webview:',
      asWebviewUri: <U>(u: U) => u,
      postMessage: async (m: unknown) => {
        posted.push(m);
        return true;
      },
      onDidReceiveMessage: (h: (m: unknown) => void) => {
        receive = h;
        return { dispose() {} };
      },
    },
    onDidChangeViewState: (h: () => void) => {
      viewState = h;
      return { dispose() {} };
    },
    onDidDispose: () => ({ dispose() {} }),
  };
  /** The panel comes to the front (true) or goes behind another editor (false). */
  const setActive = (active: boolean) => {
    panel.active = active;
    viewState();
  };
  return { panel, posted, send: (m: unknown) => receive(m), setActive };
}
