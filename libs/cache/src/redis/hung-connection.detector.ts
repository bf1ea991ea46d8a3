/**
 * Tells a connection that has stopped answering from one that is merely slow. A hung Redis (a
 * paused process, a black-holed network) keeps the TCP connection open, so ioredis never notices:
 * each command times out, yet stays in its reply queue, because replies are matched by order. At
 * 1,000 calls/s that queue grew by ~950 commands/s without limit. Recycling the connection drops
 * the queue; until the new one is ready, commands fail at once instead of queuing.
 *
 * Hung means: {@link TIMEOUTS_IN_A_ROW} deadlines passed with not one reply in between, and still
 * none arrives once the event loop has read its sockets. The second condition matters when this
 * process itself is saturated: deadline timers then fire before the replies already waiting in
 * the socket are read, and that connection is healthy.
 */
const TIMEOUTS_IN_A_ROW = 3;

export class HungConnectionDetector {
  private replies = 0;
  private repliesAtLastTimeout = -1;
  private timeoutsInARow = 0;
  private checking = false;

  constructor(private readonly onHung: (timeouts: number) => void) {}

  /** Call for every reply (success or error reply): the connection is alive. */
  replied(): void {
    this.replies++;
  }

  /** Call for every deadline that passed. */
  timedOut(): void {
    this.timeoutsInARow = this.replies === this.repliesAtLastTimeout ? this.timeoutsInARow + 1 : 1;
    this.repliesAtLastTimeout = this.replies;
    if (this.timeoutsInARow < TIMEOUTS_IN_A_ROW || this.checking) return;
    this.checking = true;
    const repliesSoFar = this.replies;
    // setImmediate runs after the poll phase, in which pending socket data is read.
    setImmediate(() => {
      this.checking = false;
      if (this.replies !== repliesSoFar) return;
      this.timeoutsInARow = 0;
      this.onHung(TIMEOUTS_IN_A_ROW);
    });
  }
}
