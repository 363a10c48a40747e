/** The dashboard's client of the relayer API (sdk/api/client): sends the session's key; a refused key logs out. */
import { createApiClient } from "../../../sdk/api/client";
import { logout } from "./session";
import { state } from "./state";

export const api = createApiClient({ baseUrl: "", key: () => state.key });

api.use({
  onResponse({ response }) {
    if (response.status === 401) logout("That API key was not accepted. Log in again with a valid key.");
  },
});
