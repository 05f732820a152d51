/** The first message typed on the "new chat" screen, sent once the conversation opens. */
export const pending = new Map();
