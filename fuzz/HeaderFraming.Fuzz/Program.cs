using System;
using System.IO;
using SharpFuzz;

namespace HeaderFraming.Fuzz;

/// <summary>
/// <c>dotnet HeaderFraming.Fuzz.dll TARGET</c> runs TARGET under AFL++ (stdin/shared memory, via SharpFuzz);
/// <c>dotnet HeaderFraming.Fuzz.dll TARGET FILE_OR_DIR...</c> replays inputs without AFL (a crash prints its stack trace).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Action<byte[]>? target = args.Length == 0 ? null : args[0] switch
        {
            "codecs" => CodecTarget.Run,
            "reader" => ReaderTarget.Run,
            _ => null,
        };
        if (target == null)
        {
            Console.Error.WriteLine("usage: HeaderFraming.Fuzz codecs|reader [FILE_OR_DIR...]");
            return 2;
        }

        if (args.Length == 1)
        {
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                target(copy.ToArray());
            });
            return 0;
        }

        int count = 0;
        for (int i = 1; i < args.Length; i++)
        {
            string[] files = Directory.Exists(args[i]) ? Directory.GetFiles(args[i]) : [args[i]];
            Array.Sort(files, StringComparer.Ordinal);
            foreach (string file in files)
            {
                target(File.ReadAllBytes(file));
                count++;
            }
        }

        Console.WriteLine($"{args[0]}: {count} inputs replayed, no failure");
        return 0;
    }
}
