import BatonCore
import Testing

@testable import Baton

/// ``LocalStore/waitUntilGone(_:tag:interrupted:)``: the write that removes a generation resumes its
/// waiter; interruption, cancellation and close end the wait and leave nothing registered.
/// ``LocalStore/waitForTurn(_:under:tag:interrupted:)``: the store follows the queue, watching only the
/// key ahead, and resumes the waiter once it is first or its own key is gone.
@Suite struct LocalWaitTests {
    /// Starts a wait and returns once the store has registered it (the store asks `interrupted` then).
    private func registeredWait(
        _ store: LocalStore, _ generations: [KeyGeneration], tag: LeaseID = LeaseID(7)
    ) async -> Task<(index: Int, revision: Int64), any Error> {
        let (registered, signal) = AsyncStream<Void>.makeStream()
        let wait = Task {
            try await store.waitUntilGone(generations, tag: tag) {
                signal.yield()
                return nil
            }
        }
        for await _ in registered { break }
        return wait
    }

    /// Starts a turn wait for `own` under `q/` and returns once the store has registered it.
    private func registeredTurn(
        _ store: LocalStore, _ own: KeyGeneration
    ) async -> Task<(owns: Bool, revision: Int64), any Error> {
        let (registered, signal) = AsyncStream<Void>.makeStream()
        let wait = Task {
            try await store.waitForTurn(own, under: "q/", tag: LeaseID(7)) {
                signal.yield()
                return nil
            }
        }
        for await _ in registered { break }
        return wait
    }

    private func delete(_ store: LocalStore, _ key: Key) async throws -> Int64 {
        try await store.deleteRange(DeleteRangeRequest(.key(key))).revision
    }

    @Test func aTurnWaitWatchesOnlyTheKeyAheadAndResumesWhenFirst() async throws {
        let store = LocalStore()
        for key in ["q/a", "q/b", "q/c"] { _ = try await put(store, Key(key)) }
        let own = KeyGeneration("q/d", createRevision: try await put(store, "q/d"))
        _ = try await put(store, "q/e")  // behind: never waited on
        let turn = await registeredTurn(store, own)
        #expect(await store.watchedKeys == [["q/c", "q/d"]])
        _ = try await delete(store, "q/c")  // the key ahead: the next one is watched instead
        #expect(await store.watchedKeys == [["q/b", "q/d"]])
        _ = try await delete(store, "q/a")  // further ahead: nothing changes
        _ = try await delete(store, "q/e")
        #expect(await store.watchedKeys == [["q/b", "q/d"]])
        let first = try await delete(store, "q/b")
        let result = try await turn.value
        #expect(result.owns && result.revision == first)
        #expect(await store.suspendedWaits == 0)
    }

    @Test func aTurnWaitEndsWhenTheOwnKeyGoesEvenWithTheKeyAhead() async throws {
        let store = LocalStore()
        _ = try await put(store, "q/a")
        let own = KeyGeneration("q/b", createRevision: try await put(store, "q/b"))
        let alone = await registeredTurn(store, own)
        let gone = try await delete(store, "q/b")
        let result = try await alone.value
        #expect(!result.owns && result.revision == gone)

        // The key ahead and the own key in one revision (as a lease revoke removes them): not first.
        let again = KeyGeneration("q/b", createRevision: try await put(store, "q/b"))
        let both = await registeredTurn(store, again)
        let revision = try await store.deleteRange(DeleteRangeRequest(.prefix("q/"))).revision
        let bothResult = try await both.value
        #expect(!bothResult.owns && bothResult.revision == revision)
        #expect(await store.suspendedWaits == 0)
    }

    @Test func aTurnThatIsAlreadyDecidedReturnsAtOnce() async throws {
        let store = LocalStore()
        let own = KeyGeneration("q/a", createRevision: try await put(store, "q/a"))
        _ = try await put(store, "q/b")
        let first = try await store.waitForTurn(own, under: "q/", tag: LeaseID(1)) { nil }
        #expect(first == (true, own.createRevision + 1))
        let stale = KeyGeneration("q/z", createRevision: 1)
        #expect(try await store.waitForTurn(stale, under: "q/", tag: LeaseID(1)) { nil }.owns == false)
        #expect(await store.suspendedWaits == 0)
    }

    private func put(_ store: LocalStore, _ key: Key) async throws -> Int64 {
        try await store.put(PutRequest(key: key)).revision
    }

    @Test func theDeleteOfEitherGenerationResumesTheWaiterWithItsRevision() async throws {
        let store = LocalStore()
        let a = try await put(store, "q/a"), b = try await put(store, "q/b")
        let wait = await registeredWait(
            store, [KeyGeneration("q/a", createRevision: a), .init("q/b", createRevision: b)])
        _ = try await put(store, "q/c")  // another key: no wake-up
        let deleted = try await store.deleteRange(DeleteRangeRequest(.key("q/b"))).revision
        let gone = try await wait.value
        #expect(gone.index == 1 && gone.revision == deleted)
        #expect(await store.suspendedWaits == 0)
    }

    @Test func aRecreatedKeyIsANewGeneration() async throws {
        let store = LocalStore()
        let first = try await put(store, "g")
        let wait = await registeredWait(store, [KeyGeneration("g", createRevision: first)])
        _ = try await put(store, "g")  // same generation, new value: still waiting
        #expect(await store.suspendedWaits == 1)
        _ = try await store.deleteRange(DeleteRangeRequest(.key("g")))
        let recreated = try await put(store, "g")
        #expect(try await wait.value.index == 0)
        #expect(
            try await store.waitUntilGone([KeyGeneration("g", createRevision: first)], tag: LeaseID(1)) { nil }
                .revision == recreated)
    }

    @Test func aGenerationAlreadyGoneReturnsAtOnce() async throws {
        let store = LocalStore()
        let revision = try await put(store, "x")
        let gone = try await store.waitUntilGone([.init("x", createRevision: revision - 1)], tag: LeaseID(1)) { nil }
        #expect(gone.index == 0 && gone.revision == revision)
    }

    @Test(.timeLimit(.minutes(1))) func interruptionEndsOnlyTheWaitsOfItsTag() async throws {
        let store = LocalStore()
        let revision = try await put(store, "k")
        let mine = await registeredWait(store, [.init("k", createRevision: revision)], tag: LeaseID(1))
        let theirs = await registeredWait(store, [.init("k", createRevision: revision)], tag: LeaseID(2))
        // The time limit cancels the test; pass that on, so that a wait left running fails the test
        // instead of hanging the run.
        await withTaskCancellationHandler {
            await store.interruptWaits(tag: LeaseID(1), with: BatonError(.sessionExpired, "test"))
            await expectBatonError(.sessionExpired) { _ = try await mine.value }
            #expect(await store.suspendedWaits == 1)
            await store.close()
            await expectBatonError(.alreadyClosed) { _ = try await theirs.value }
        } onCancel: {
            mine.cancel()
            theirs.cancel()
        }
        #expect(await store.suspendedWaits == 0)
    }

    @Test func anInterruptionDecidedBeforeRegistrationFailsTheWaitAtOnce() async throws {
        let store = LocalStore()
        let revision = try await put(store, "k")
        await expectBatonError(.alreadyClosed) {
            _ = try await store.waitUntilGone([.init("k", createRevision: revision)], tag: LeaseID(1)) {
                BatonError(.alreadyClosed, "session ended")
            }
        }
        #expect(await store.suspendedWaits == 0)
    }

    @Test func cancellationEndsTheWaitAndUnregistersIt() async throws {
        let store = LocalStore()
        let revision = try await put(store, "k")
        let wait = await registeredWait(store, [.init("k", createRevision: revision)])
        wait.cancel()
        // The store resumes the cancelled waiter only as it unregisters the wait.
        await #expect(throws: CancellationError.self) { _ = try await wait.value }
        #expect(await store.suspendedWaits == 0)
    }
}
