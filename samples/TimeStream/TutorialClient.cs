using System.Globalization;
using System.Text;

namespace TimeStream;

/// <summary>
/// The seed tutorial's client loop, ported literally: <c>recv(16)</c>, <c>int(msg[:10])</c> on a new message, string
/// concatenation until <c>len(full_msg) - 10 == msglen</c>. It only works when each message arrives on its own.
/// </summary>
public static class TutorialClient
{
    private const int HeaderSize = 10;

    /// <summary>Feeds <paramref name="wire"/> to the tutorial's loop in 16-byte receives and returns the messages it prints.</summary>
    /// <returns>The messages it recognised, and whether it lost track (a receive held the end of one message and the start of the next).</returns>
    public static (List<string> Messages, bool Desynced) Reassemble(byte[] wire)
    {
        var messages = new List<string>();
        string fullMsg = string.Empty;
        bool newMsg = true;
        int msgLen = 0;
        for (int offset = 0; offset < wire.Length; offset += 16)
        {
            string msg = Encoding.UTF8.GetString(wire, offset, Math.Min(16, wire.Length - offset));
            if (newMsg)
            {
                if (!int.TryParse(msg.AsSpan(0, Math.Min(HeaderSize, msg.Length)), NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out msgLen))
                {
                    return (messages, true);
                }

                newMsg = false;
            }

            fullMsg += msg;
            if (fullMsg.Length - HeaderSize == msgLen)
            {
                messages.Add(fullMsg[HeaderSize..]);
                newMsg = true;
                fullMsg = string.Empty;
            }
            else if (fullMsg.Length - HeaderSize > msgLen)
            {
                // The receive held the start of the next message: the loop never sees equality again.
                return (messages, true);
            }
        }

        return (messages, false);
    }
}
