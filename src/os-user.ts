import { userInfo } from 'node:os';

/** The name of the user running the process, as commits and MLflow records give it; undefined when the OS has none. */
export function osUserName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}
