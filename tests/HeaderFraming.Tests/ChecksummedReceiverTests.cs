using System.Buffers;
using HeaderFraming.Tests.Infrastructure;
using Xunit.Sdk;

namespace HeaderFraming.Tests;

/// <summary>The load test's checker must be able to fail: every kind of damage it claims to catch, it catches.</summary>
public class ChecksummedReceiverTests
{
    private static readonly int[] s_lengths = [0, 1, 4, 5, 11, 12, 13, 300, 70_000];

    [Fact]
    public void AnIntactStreamFromTwoInterleavedWritersPasses()
    {
        List<byte[]> frames = Frames(out int[] perWriter, out int empty);
        var receiver = new ChecksummedReceiver(2, 70_000);
        foreach (byte[] frame in frames)
        {
            receiver.Accept(new ReadOnlySequence<byte>(frame));
        }

        receiver.AssertReceivedEverything(perWriter, empty);
        Assert.Equal(frames.Count, receiver.Frames);
    }

    public static TheoryData<string, int> Damage()
    {
        var data = new TheoryData<string, int>();
        List<byte[]> frames = Frames(out _, out _);
        for (int i = 0; i < frames.Count; i++)
        {
            foreach (string kind in new[] { "lose", "repeat", "swap", "flip" })
            {
                // Empty frames carry nothing to flip, and their order is unobservable (only their count is checked). A swap
                // needs a later frame of the same writer with different bytes.
                if (frames[i].Length == 0 && kind is "flip" or "swap")
                {
                    continue;
                }

                if (kind == "swap" && (NextOfSameWriter(frames, i) is int j && (j < 0 || frames[j].AsSpan().SequenceEqual(frames[i]))))
                {
                    continue;
                }

                data.Add(kind, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Damage))]
    public void EveryLostRepeatedReorderedOrCorruptFrameIsCaught(string kind, int index)
    {
        List<byte[]> frames = Frames(out int[] perWriter, out int empty);
        switch (kind)
        {
            case "lose":
                frames.RemoveAt(index);
                break;
            case "repeat":
                frames.Insert(index, frames[index]);
                break;
            case "swap":
                int other = NextOfSameWriter(frames, index);
                (frames[index], frames[other]) = (frames[other], frames[index]);
                break;
            default:
                byte[] copy = (byte[])frames[index].Clone();
                copy[copy.Length - 1] ^= 0x40;
                frames[index] = copy;
                break;
        }

        var receiver = new ChecksummedReceiver(2, 70_000);
        Assert.ThrowsAny<XunitException>(() =>
        {
            foreach (byte[] frame in frames)
            {
                receiver.Accept(new ReadOnlySequence<byte>(frame));
            }

            receiver.AssertReceivedEverything(perWriter, empty);
        });
    }

    [Fact]
    public void APrefixOfEachWritersFramesPassesTheAtMostCheckAndOneFrameTooManyFailsIt()
    {
        List<byte[]> frames = Frames(out int[] perWriter, out int empty);
        var receiver = new ChecksummedReceiver(2, 70_000);
        var arrived = new int[2];
        foreach (byte[] frame in frames.Take(frames.Count / 2))
        {
            (int writer, int sequence) = receiver.Accept(new ReadOnlySequence<byte>(frame));
            if (frame.Length == 0)
            {
                Assert.Equal((-1, -1), (writer, sequence));
            }
            else
            {
                Assert.Equal(arrived[writer]++, sequence);
            }
        }

        Assert.Equal(arrived, new[] { receiver.ReceivedFrom(0), receiver.ReceivedFrom(1) });
        Assert.True(arrived[0] > 0 && receiver.EmptyFrames > 0);
        receiver.AssertReceivedNoMoreThan(perWriter, empty);
        receiver.AssertReceivedNoMoreThan(arrived, receiver.EmptyFrames);
        Assert.ThrowsAny<XunitException>(() => receiver.AssertReceivedNoMoreThan([arrived[0] - 1, arrived[1]], receiver.EmptyFrames));
        Assert.ThrowsAny<XunitException>(() => receiver.AssertReceivedNoMoreThan(arrived, receiver.EmptyFrames - 1));
    }

    /// <summary>Two writers, each sending every edge length twice, interleaved.</summary>
    private static List<byte[]> Frames(out int[] perWriter, out int empty)
    {
        var frames = new List<byte[]>();
        perWriter = new int[2];
        empty = 0;
        var random = new Random(1);
        for (int round = 0; round < 2; round++)
        {
            foreach (int length in s_lengths)
            {
                for (int w = 0; w < 2; w++)
                {
                    var payload = new byte[length];
                    Checksummed.Fill(payload, w, perWriter[w], random);
                    frames.Add(payload);
                    if (length == 0)
                    {
                        empty++;
                    }
                    else
                    {
                        perWriter[w]++;
                    }
                }
            }
        }

        return frames;
    }

    private static int NextOfSameWriter(List<byte[]> frames, int index)
    {
        byte[] frame = frames[index];
        for (int j = index + 1; j < frames.Count; j++)
        {
            if (frames[j].Length > 0 && frames[j][0] == frame[0])
            {
                return j;
            }
        }

        return -1;
    }
}
